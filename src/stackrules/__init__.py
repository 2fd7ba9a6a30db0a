"""stackrules: credit transfer and credential stacking."""
