rule transfer_cell:
    """One cell of the transfer table: a target's accuracy on a source's FGSM examples."""
    input:
        adv="results/adv/{dataset}/fgsm/{source}.h5",
        model=lambda w: model_file(w.dataset, w.target),
    output:
        "results/transfer/{dataset}/{source}/{target}.h5",
    log:
        "logs/transfer_cell/{dataset}/{source}/{target}.log",
    params:
        runtime=EVAL_RUNTIME,
        code=code_hash("transfer"),
    resources:
        gpu=GPU,
    threads: THREADS
    script:
        "../scripts/transfer_cell.py"

