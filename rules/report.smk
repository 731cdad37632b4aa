# Every registered table and figure (cvgr.report.outputs; cvgr's own in cvgr/report/catalogue.py), planned only where
# it is (cvgr.report.outputs.Output.planned): one rule each, named after it, and one HTML page per Markdown table,
# which the HTML report shows inline (it offers .csv/.md as downloads). Tables, figures and pages are cheap:
# they run where Snakemake runs (localrule), never as cluster jobs.


def output_inputs(out):
    """The input function of ``out``'s rule: its files by source, all covered datasets' or one dataset's."""
    return lambda w: out.inputs(STUDY, [w.dataset] if out.scope == "dataset" else out.covered(DATASETS))


def output_settings(out):
    """The params of ``out``'s rule: the config sections its sources depend on, per dataset it covers."""
    return lambda w: out.settings(STUDY, [w.dataset] if out.scope == "dataset" else out.covered(DATASETS))


def report_file(out, path):
    return report(path, caption=out.caption_path("../report"), category=out.category,
                  subcategory="{dataset}" if out.scope == "dataset" else None)


def dataset_constraint(planned):
    """A per-dataset output's rule makes only the datasets it is planned for."""
    return {"dataset": "|".join(planned)} if planned != [None] else {}


for _out in OUTPUTS:
    _planned = _out.planned(STUDY)
    if not _planned:
        continue
    _files = _out.files()
    _made = {f: report_file(_out, p) if i == 0 else p for i, (f, p) in enumerate(_files.items()) if f != "html"}

    rule:
        name:
            _out.name
        input:
            unpack(output_inputs(_out)),
        output:
            **_made,
            **{f"{f}_prov": f"{_files[f]}.prov.json" for f in _made},
        log:
            _out.log(_out.name),
        params:
            output=_out.name,
            module=_out.module,
            settings=output_settings(_out),
            code=_out.code(),
        wildcard_constraints:
            **dataset_constraint(_planned),
        threads: 1
        localrule: True
        script:
            "../scripts/output.py"

    if _out.page:

        rule:
            name:
                _out.page
            input:
                _files["md"],
            output:
                report_file(_out, _files["html"]),
                f"{_files['html']}.prov.json",
            log:
                _out.log(_out.page),
            params:
                code=code_hash("tables"),
            wildcard_constraints:
                **dataset_constraint(_planned),
            threads: 1
            localrule: True
            script:
                "../scripts/table_page.py"
