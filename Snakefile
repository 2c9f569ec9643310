# synthmir: General MIDI -> audio -> pitchgrams -> Keras models -> results/report.html
from snakemake.utils import min_version

from synthmir.config_checks import check_files, refuse_config_errors

min_version("9.0")

# A bad config file stops here, with its line and column (Snakemake's message has neither).
with refuse_config_errors():
    check_files("config/config.yaml", *workflow.configfiles)


configfile: "config/config.yaml"


# Checks the config against config/config.schema.yaml, fills in its defaults, expands sweeps.
include: "rules/common.smk"


# Entry names are folder names: no slashes, so paths parse one way.
wildcard_constraints:
    dataset=ENTRY_NAME,
    features=ENTRY_NAME,
    model=ENTRY_NAME,
    soundfont=ENTRY_NAME,
    shard=r"\d+",
    scheme=ENTRY_NAME,
    evaluation=ENTRY_NAME,


include: "rules/data.smk"
include: "rules/features.smk"
include: "rules/learn.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        layout.REPORT_HTML,
