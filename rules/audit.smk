# One audit attack on one model: per-image correctness at the audit's eps (and its sweep for FGSM / PGD).
sweep_rule("audit_sweep", "audit", Plan.audit_spec)


rule masking_table:
    """The gradient-masking audit: per model, accuracy under each attack, the worst case and the flags."""
    input:
        audit_files(),
    output:
        csv=report("results/tables/masking.csv", caption="../report/masking.rst", category="Tables"),
        md="results/tables/masking.md",
        csv_prov="results/tables/masking.csv.prov.json",
        md_prov="results/tables/masking.md.prov.json",
    log:
        "logs/masking_table/all/masking_table.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/masking_table.py"


rule masking_figure:
    """Accuracy per attack and the worst case, one group of bars per model, flagged models marked."""
    input:
        lambda w: audit_files([w.dataset]),
    output:
        report("results/figures/masking_{dataset}.png", caption="../report/masking_figure.rst",
               category="Figures", subcategory="{dataset}"),
        "results/figures/masking_{dataset}.png.prov.json",
    log:
        "logs/masking_figure/{dataset}/masking_figure.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/masking_figure.py"
