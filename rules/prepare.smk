rule prepare:
    """Raw dataset files -> results/data/{dataset}.h5 (uint8 images, labels, raw sha256s)."""
    output:
        "results/data/{dataset}.h5",
    log:
        "logs/prepare/{dataset}/prepare.log",
    params:
        # rerun triggers: where the raw files are, and the code. `download` is left out (the script reads it
        # from the config): a fetch policy cannot change the data, so flipping it must not rebuild everything
        # downstream.
        raw_dir=lambda w: plan(w).section.raw_dir,
        code=code_hash("prepare"),
    threads: 1
    localrule: True
    script:
        "../scripts/prepare.py"
