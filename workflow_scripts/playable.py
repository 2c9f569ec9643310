from synthmir.instruments import measure_playable
from synthmir.io import atomic_path
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    probe = snakemake.params.probe
    table = measure_playable(snakemake.params.soundfont["path"], None, probe["velocity"],
                             probe["seconds"], probe["threshold_db"])
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
