from synthmir.data.instruments import write_playable
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_playable(snakemake.params.soundfont["path"], snakemake.params.probe,
                   snakemake.output.table)
