rule train_model:
    """One model of the study: {field}-{std|gr<beta>|adv<eps>}-s{seed}, with its per-epoch history."""
    input:
        data=data_file,
    output:
        model="results/models/{dataset}/{model}.pt",
        history="results/models/{dataset}/{model}.h5",
    log:
        "logs/train_model/{dataset}/{model}.log",
    params:
        spec=lambda w: grid.training_spec(config, w.dataset, w.model),
        # not an output: survives a killed job so the rerun resumes; train() deletes it on success
        checkpoint="results/checkpoints/{dataset}/{model}.ckpt",
        threads=THREADS,
        device=DEVICE,
        code=code_hash("train"),
    threads: THREADS
    priority: lambda w: grid.training_priority(config, w.dataset, w.model)  # longest first
    script:
        "../scripts/train_model.py"
