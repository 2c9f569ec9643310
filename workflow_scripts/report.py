from pathlib import Path

from synthmir.evaluate.report import write_report
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_report(snakemake.params.config, snakemake.params.models, snakemake.output.report,
                 workflow_dir=str(Path(snakemake.scriptdir).parent))
