# synthmir: General MIDI -> audio -> pitchgrams -> Keras models -> results/report.html
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/config.schema.yaml")


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
