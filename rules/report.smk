rule whitebox_table:
    """Every white-box sweep of every dataset, one row per (dataset, attack, model, eps)."""
    input:
        whitebox_files(),
    output:
        report("results/tables/whitebox.csv", caption="../report/whitebox_table.rst", category="Tables"),
        "results/tables/whitebox.csv.prov.json",
    log:
        "logs/whitebox_table/all/whitebox_table.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/whitebox_table.py"


rule training_table:
    """Clean accuracy, final zeta, epochs, beta, mode of every trained model."""
    input:
        history_files(),
    output:
        report("results/tables/training.csv", caption="../report/training.rst", category="Tables"),
        "results/tables/training.csv.prov.json",
    log:
        "logs/training_table/all/training_table.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/training_table.py"


rule whitebox_figure:
    """Accuracy vs eps, one line per model, FGSM and PGD panels."""
    input:
        lambda w: whitebox_files([w.dataset]),
    output:
        report("results/figures/whitebox_{dataset}.png", caption="../report/whitebox_figure.rst",
               category="Figures", subcategory="{dataset}"),
        "results/figures/whitebox_{dataset}.png.prov.json",
    log:
        "logs/whitebox_figure/{dataset}/whitebox_figure.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/whitebox_figure.py"


rule zeta_figure:
    """zeta per epoch, real vs complex, each beta of the grid."""
    input:
        lambda w: [history_file(w.dataset, m) for m in plan(w).grid_models],
    output:
        report("results/figures/zeta_{dataset}.png", caption="../report/zeta_figure.rst",
               category="Figures", subcategory="{dataset}"),
        "results/figures/zeta_{dataset}.png.prov.json",
    log:
        "logs/zeta_figure/{dataset}/zeta_figure.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/zeta_figure.py"


# Each Markdown table also as an HTML page, which the HTML report shows inline (it offers .csv/.md as downloads).
# Cheap like the tables: each page runs where Snakemake runs (localrule), never as a cluster job.
PAGES = {  # table -> (caption, report category)
    "transfer": ("transfer.rst", "Tables"),
    "nes": ("nes.rst", "Tables"),
    "masking": ("masking.rst", "Tables"),
    "frontier": ("frontier.rst", "Tables"),
    "claims": ("claims.rst", "This run vs the paper"),
    "transfer_vs_paper": ("vs_paper.rst", "This run vs the paper"),
    "nes_vs_paper": ("vs_paper.rst", "This run vs the paper"),
}

for _table, (_caption, _category) in PAGES.items():

    rule:
        name:
            f"{_table}_page"
        input:
            f"results/tables/{_table}.md",
        output:
            report(f"results/tables/{_table}.html", caption=f"../report/{_caption}", category=_category),
            f"results/tables/{_table}.html.prov.json",
        log:
            f"logs/{_table}_page/all/{_table}_page.log",
        params:
            code=code_hash("tables"),
        threads: 1
        localrule: True
        script:
            "../scripts/table_page.py"
