rule craft_adversarial:
    """FGSM examples crafted on a transfer source, at the dataset's transfer eps."""
    input:
        data=data_file,
        model=lambda w: model_file(w.dataset, w.model),
    output:
        "results/adv/{dataset}/fgsm/{model}.h5",
    log:
        "logs/craft_adversarial/{dataset}/{model}.log",
    params:
        spec=lambda w: grid.craft_spec(config, w.dataset),
        threads=THREADS,
        device=DEVICE,
        code=code_hash("craft"),
    threads: THREADS
    script:
        "../scripts/craft_adversarial.py"


rule whitebox_sweep:
    """Accuracy of one model under FGSM or PGD-k at each eps of the white-box grid."""
    input:
        data=data_file,
        model=lambda w: model_file(w.dataset, w.model),
    output:
        "results/whitebox/{dataset}/{attack}/{model}.h5",
    log:
        "logs/whitebox_sweep/{dataset}/{attack}/{model}.log",
    params:
        spec=lambda w: grid.whitebox_spec(config, w.dataset, w.attack),
        threads=THREADS,
        device=DEVICE,
        code=code_hash("whitebox"),
    threads: THREADS
    script:
        "../scripts/whitebox_sweep.py"
