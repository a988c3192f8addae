"""Training programs: configs, Stage-1 alignment and Stage-2 tuning loops, and the baselines' harness
(:mod:`.baseline`, ``sensorllm baseline``)."""
