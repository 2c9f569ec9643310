from pathlib import Path

from synthmir.logs import job_log
from synthmir.report import write_report

with job_log(snakemake.log[0]):
    write_report(snakemake.params.config, snakemake.params.models, "results", "data",
                 snakemake.output.report, workflow_dir=str(Path(snakemake.scriptdir).parent))
