"""The suppression list (SPEC 4.2): addresses Herald no longer mails."""
