rule nes:
    """NES query attack (PGD on estimated gradients) on one model."""
    input:
        data=data_file,
        model=lambda w: model_file(w.dataset, w.model),
    output:
        "results/nes/{dataset}/{model}.h5",
    log:
        "logs/nes/{dataset}/{model}.log",
    params:
        spec=lambda w: plan(w).nes_spec().to_dict(),
        seed=SEED,
        runtime=EVAL_RUNTIME,
        code=code_hash("nes"),
    resources:
        gpu=GPU,
    threads: THREADS
    script:
        "../scripts/nes.py"

