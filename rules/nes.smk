rule nes_attack:
    """NES query attack (PGD on estimated gradients) on one model."""
    input:
        data=data_file,
        model=lambda w: model_file(w.dataset, w.model),
    output:
        "results/nes/{dataset}/{model}.h5",
    log:
        "logs/nes_attack/{dataset}/{model}.log",
    params:
        spec=lambda w: plan(w).nes_spec().to_dict(),
        seed=SEED,
        runtime=EVAL_RUNTIME,
        code=code_hash("nes"),
    resources:
        gpu=GPU,
    threads: THREADS
    script:
        "../scripts/nes_attack.py"


rule nes_table:
    """NES accuracy per network and defense."""
    input:
        nes_files(),
    output:
        csv=report("results/tables/nes.csv", caption="../report/nes.rst", category="Tables"),
        md="results/tables/nes.md",
        csv_prov="results/tables/nes.csv.prov.json",
        md_prov="results/tables/nes.md.prov.json",
    log:
        "logs/nes_table/all/nes_table.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/nes_table.py"
