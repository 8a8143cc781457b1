{
  "targets": [
    {
      "target_name": "sixswarm_tun",
      "sources": ["tun.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["tun.c"], "type": "none" }]
      ]
    },
    {
      "target_name": "sixswarm_rc4",
      "sources": ["rc4.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "sixswarm_pwrite",
      "sources": ["pwrite.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "sixswarm_udp",
      "sources": ["udp.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["udp.c"], "type": "none" }]
      ]
    }
  ]
}
