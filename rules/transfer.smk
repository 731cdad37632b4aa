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


rule transfer_table:
    """All datasets' transfer cells -> the paper's table (rows source field x target, cells Std. / G.R.)."""
    input:
        transfer_files(),
    output:
        csv=report("results/tables/transfer.csv", caption="../report/transfer.rst", category="Tables"),
        md="results/tables/transfer.md",
        csv_prov="results/tables/transfer.csv.prov.json",
        md_prov="results/tables/transfer.md.prov.json",
    log:
        "logs/transfer_table/all/transfer_table.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/transfer_table.py"
