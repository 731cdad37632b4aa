rule transfer_vs_paper:
    """Each transfer cell the paper reports beside the measured accuracy, its difference and interval."""
    input:
        transfer_files(),
    output:
        csv=report("results/tables/transfer_vs_paper.csv", caption="../report/vs_paper.rst", category="This run vs the paper"),
        md="results/tables/transfer_vs_paper.md",
        csv_prov="results/tables/transfer_vs_paper.csv.prov.json",
        md_prov="results/tables/transfer_vs_paper.md.prov.json",
    log:
        "logs/transfer_vs_paper/all/transfer_vs_paper.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/vs_paper.py"


rule nes_vs_paper:
    """Each NES accuracy the paper reports beside the measured one."""
    input:
        nes_files(),
    output:
        csv=report("results/tables/nes_vs_paper.csv", caption="../report/vs_paper.rst", category="This run vs the paper"),
        md="results/tables/nes_vs_paper.md",
        csv_prov="results/tables/nes_vs_paper.csv.prov.json",
        md_prov="results/tables/nes_vs_paper.md.prov.json",
    log:
        "logs/nes_vs_paper/all/nes_vs_paper.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/vs_paper.py"


rule paper_figure:
    """Measured against the paper's accuracy, one point per transfer cell, with the diagonal."""
    input:
        transfer_files(),
    output:
        report("results/figures/transfer_vs_paper.png", caption="../report/paper_figure.rst",
               category="This run vs the paper"),
        "results/figures/transfer_vs_paper.png.prov.json",
    log:
        "logs/paper_figure/all/paper_figure.log",
    params:
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/paper_figure.py"


rule claims_table:
    """Each claim and ordering of the paper: the measured evidence, a 95% interval and a verdict."""
    input:
        histories=history_files(),
        transfer=transfer_files(),
        nes=nes_files(),
        frontier_histories=frontier_history_files(),
        frontier_audit=frontier_audit_files(),
    output:
        csv=report("results/tables/claims.csv", caption="../report/claims.rst", category="This run vs the paper"),
        md="results/tables/claims.md",
        csv_prov="results/tables/claims.csv.prov.json",
        md_prov="results/tables/claims.md.prov.json",
    log:
        "logs/claims_table/all/claims_table.log",
    params:
        frontier=frontier_settings(),
        code=code_hash("tables"),
    threads: 1
    localrule: True
    script:
        "../scripts/claims_table.py"
