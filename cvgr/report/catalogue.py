"""cvgr's own tables and figures: each is one function and its registration (:mod:`cvgr.report.outputs`).

A function gets a :class:`cvgr.report.outputs.Job` (its input files by source, its output paths by format, its
dataset) and writes the files. It imports what computes the output inside its body, so that planning
the workflow, which imports this module, stays light. The captions are .rst files in the workflow's
``report/`` folder.
"""
from __future__ import annotations

from .outputs import Job, figure, table


@table("transfer_table", stem="transfer", reads=["transfer"], caption_file="transfer.rst")
def transfer_table(job: Job) -> None:
    """The paper's transfer table from every dataset's transfer cells (:func:`cvgr.report.tables.write_transfer_table`)."""
    from .tables import write_transfer_table
    write_transfer_table(job.inputs["transfer"], job.outputs["csv"], job.outputs["md"])


@table("nes_table", stem="nes", reads=["nes"], caption_file="nes.rst")
def nes_table(job: Job) -> None:
    """NES accuracy per network and defense (:func:`cvgr.report.tables.write_nes_table`)."""
    from .tables import write_nes_table
    write_nes_table(job.inputs["nes"], job.outputs["csv"], job.outputs["md"])


@table("whitebox_table", stem="whitebox", reads=["whitebox"], formats=["csv"], caption_file="whitebox_table.rst")
def whitebox_table(job: Job) -> None:
    """Every white-box sweep, one row per (dataset, attack, model, eps) (:func:`cvgr.report.model_tables.write_whitebox_table`)."""
    from .model_tables import write_whitebox_table
    write_whitebox_table(job.inputs["whitebox"], job.outputs["csv"])


@table("training_table", stem="training", reads=["histories"], formats=["csv"], caption_file="training.rst")
def training_table(job: Job) -> None:
    """Clean accuracy, final zeta, epochs, beta, mode of every model (:func:`cvgr.report.model_tables.write_training_table`)."""
    from .model_tables import write_training_table
    write_training_table(job.inputs["histories"], job.outputs["csv"])


@table("masking_table", stem="masking", reads=["audit"], caption_file="masking.rst")
def masking_table(job: Job) -> None:
    """The gradient-masking audit per model (:func:`cvgr.report.audit_table.write_masking_table`)."""
    from .audit_table import write_masking_table
    write_masking_table(job.inputs["audit"], job.outputs["csv"], job.outputs["md"])


def _frontier_settings(job: Job) -> dict[str, dict[str, float]]:
    """Per dataset with a frontier: the eps its robust accuracy is read at (the audit's), its bootstrap size."""
    return {d: {"eps": s["audit"]["eps"], "replicates": s["frontier"]["replicates"]}
            for d, s in job.settings.items() if s.get("frontier")}


@table("claims_table", stem="claims", reads=["histories", "transfer", "nes", "frontier_histories", "frontier_audit"],
       optional=["transfer", "nes", "frontier_histories", "frontier_audit"], caption_file="claims.rst",
       category="This run vs the paper")
def claims_table(job: Job) -> None:
    """Each claim of the paper with its evidence, interval and verdict, and with a frontier the matched-accuracy
    row (:func:`cvgr.report.vs_paper.write_claims_table`)."""
    from .vs_paper import write_claims_table
    write_claims_table(job.inputs["histories"], job.inputs["transfer"], job.inputs["nes"], job.outputs["csv"],
                       job.outputs["md"], job.inputs["frontier_histories"], job.inputs["frontier_audit"],
                       _frontier_settings(job))


@table("frontier_table", stem="frontier", reads=["frontier_histories", "frontier_audit", "frontier_nes"],
       optional=["frontier_nes"], caption_file="frontier.rst")
def frontier_table(job: Job) -> None:
    """Per field and beta: clean and robust accuracy with 95% intervals, the frontier, NES beside, the gap G
    (:func:`cvgr.report.frontier_table.write_frontier_table`)."""
    from .frontier_table import write_frontier_table
    write_frontier_table(job.inputs["frontier_histories"], job.inputs["frontier_audit"], job.inputs["frontier_nes"],
                         _frontier_settings(job), job.outputs["csv"], job.outputs["md"])


@figure("frontier_figure", stem="frontier", reads=["frontier_histories", "frontier_audit"],
        caption_file="frontier_figure.rst")
def frontier_figure(job: Job) -> None:
    """Clean vs robust accuracy, one curve per field, 95% intervals in both directions (:func:`cvgr.report.figures.plot_frontier`)."""
    from .figures import plot_frontier
    plot_frontier(job.inputs["frontier_histories"], job.inputs["frontier_audit"], [], _frontier_settings(job),
                  job.outputs["png"], job.dataset)


@table("transfer_vs_paper", reads=["transfer"], paper="transfer", caption_file="vs_paper.rst")
def transfer_vs_paper(job: Job) -> None:
    """Each transfer cell the paper reports beside the measured one (:func:`cvgr.report.vs_paper.write_paper_comparison`)."""
    from .vs_paper import write_paper_comparison
    write_paper_comparison("transfer", job.inputs["transfer"], job.outputs["csv"], job.outputs["md"])


@table("nes_vs_paper", reads=["nes"], paper="nes", caption_file="vs_paper.rst")
def nes_vs_paper(job: Job) -> None:
    """Each NES accuracy the paper reports beside the measured one (:func:`cvgr.report.vs_paper.write_paper_comparison`)."""
    from .vs_paper import write_paper_comparison
    write_paper_comparison("nes", job.inputs["nes"], job.outputs["csv"], job.outputs["md"])


@figure("whitebox_figure", stem="whitebox", reads=["whitebox"], caption_file="whitebox_figure.rst")
def whitebox_figure(job: Job) -> None:
    """Accuracy vs eps, one line per model, one panel per attack (:func:`cvgr.report.figures.plot_whitebox`)."""
    from .figures import plot_whitebox
    plot_whitebox(job.inputs["whitebox"], job.outputs["png"], job.dataset)


@figure("zeta_figure", stem="zeta", reads=["grid_histories"], caption_file="zeta_figure.rst")
def zeta_figure(job: Job) -> None:
    """zeta per epoch, real vs complex, each beta of the grid (:func:`cvgr.report.figures.plot_zeta`)."""
    from .figures import plot_zeta
    plot_zeta(job.inputs["grid_histories"], job.outputs["png"], job.dataset)


@figure("masking_figure", stem="masking", reads=["audit"], caption_file="masking_figure.rst")
def masking_figure(job: Job) -> None:
    """Accuracy per attack and the worst case per model, flags marked (:func:`cvgr.report.figures.plot_masking`)."""
    from .figures import plot_masking
    plot_masking(job.inputs["audit"], job.outputs["png"], job.dataset)


@figure("paper_figure", stem="transfer_vs_paper", scope="all", reads=["transfer"], paper="transfer",
        caption_file="paper_figure.rst")
def paper_figure(job: Job) -> None:
    """Measured against the paper's accuracy, one point per transfer cell (:func:`cvgr.report.figures.plot_paper`)."""
    from .figures import plot_paper
    plot_paper(job.inputs["transfer"], job.outputs["png"])
