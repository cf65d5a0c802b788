/// The compiled BPF programs, one static base64 string per `bpf/*.bpf.c`,
/// generated at build time by the BPFCompiler plugin.
enum BPFObjects {}
