fn main() {
    cc::Build::new()
        .file("src/mix.c")
        // ruleid: ARM-BUILD-X86-ISA-FLAG
        .flag("-msse4.2")
        // ok: ARM-BUILD-X86-ISA-FLAG
        .flag("-O3") // a comment that says -mavx2 is not a flag
        .compile("mix");
}
