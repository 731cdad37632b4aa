rule train:
    """One model of the study: {field}-{std|gr<beta>|adv<eps>}-s{seed}, with its per-epoch history."""
    input:
        data=data_file,
    output:
        model="results/models/{dataset}/{model}.pt",
        history="results/models/{dataset}/{model}.h5",
    log:
        "logs/train/{dataset}/{model}.log",
    params:
        spec=lambda w: plan(w).train_spec(plan(w).model(w.model)).to_dict(),
        runtime=RUNTIME,
        # not an output: survives a killed job so the rerun resumes; training deletes it on success
        checkpoint="results/checkpoints/{dataset}/{model}.ckpt",
        code=code_hash("train"),
    resources:
        gpu=GPU,
    threads: THREADS
    priority: lambda w: plan(w).training_priority(plan(w).model(w.model))  # longest first
    script:
        "../scripts/train.py"
