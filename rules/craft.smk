rule craft:
    """The transfer table's examples, crafted on a source at the dataset's transfer eps."""
    input:
        data=data_file,
        model=lambda w: model_file(w.dataset, w.model),
    output:
        "results/craft/{dataset}/{attack}/{model}.h5",
    log:
        "logs/craft/{dataset}/{attack}/{model}.log",
    params:
        spec=lambda w: plan(w).craft_spec().replace(attack=AttackId.parse(w.attack)).to_dict(),
        seed=SEED,
        runtime=EVAL_RUNTIME,
        code=code_hash("craft"),
    resources:
        gpu=GPU,
    threads: THREADS
    script:
        "../scripts/craft.py"
