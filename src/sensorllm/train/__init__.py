"""Training programs: configs, Stage-1 alignment and Stage-2 tuning loops."""
