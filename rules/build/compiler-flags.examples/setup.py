from setuptools import Extension, setup

ext = Extension(
    "mixer._native",
    sources=["src/mixer.c"],
    # ruleid: ARM-BUILD-X86-ISA-FLAG
    extra_compile_args=["-O3", "-msse4.1"],
)
setup(ext_modules=[ext])
