"""Who did what, when and from where (SPEC 8): one row per change a person makes,
written in the transaction of the change it records."""
