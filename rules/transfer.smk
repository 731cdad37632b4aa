rule transfer:
    """One cell of the transfer table: a target's accuracy on a source's FGSM examples."""
    input:
        adv="results/craft/{dataset}/fgsm/{source}.h5",
        model=lambda w: model_file(w.dataset, w.target),
    output:
        "results/transfer/{dataset}/{source}/{target}.h5",
    log:
        "logs/transfer/{dataset}/{source}/{target}.log",
    params:
        runtime=EVAL_RUNTIME,
        code=code_hash("transfer"),
    resources:
        gpu=GPU,
    threads: THREADS
    script:
        "../scripts/transfer.py"

