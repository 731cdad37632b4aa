# The robustness-accuracy frontier (docs/METHOD.md 7.1): its models are trained by rules/train.smk and
# attacked by the audit's rule (rules/audit.smk); these rules only read their files.


rule frontier_table:
    """Per field and beta: clean and robust accuracy with 95% intervals, the frontier, NES beside, the gap G."""
    input:
        histories=frontier_history_files(),
        audit=frontier_audit_files(),
        nes=frontier_nes_files(),
    output:
        csv=report("results/tables/frontier.csv", caption="../report/frontier.rst", category="Tables"),
        md="results/tables/frontier.md",
        csv_prov="results/tables/frontier.csv.prov.json",
        md_prov="results/tables/frontier.md.prov.json",
    log:
        "logs/frontier_table/all/frontier_table.log",
    params:
        settings=frontier_settings(),
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/frontier_table.py"


rule frontier_figure:
    """Clean vs robust accuracy, one curve per field, 95% intervals in both directions."""
    input:
        histories=lambda w: frontier_history_files([w.dataset]),
        audit=lambda w: frontier_audit_files([w.dataset]),
    output:
        report("results/figures/frontier_{dataset}.png", caption="../report/frontier_figure.rst",
               category="Figures", subcategory="{dataset}"),
        "results/figures/frontier_{dataset}.png.prov.json",
    log:
        "logs/frontier_figure/{dataset}/frontier_figure.log",
    params:
        settings=frontier_settings(),
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/frontier_figure.py"
