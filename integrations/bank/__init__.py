"""Banks: the batch transfer file for payouts the payment rail cannot carry."""
