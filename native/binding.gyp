{
  "targets": [
    {
      "target_name": "sixswarm_tun",
      "sources": ["tun.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["tun.c"], "type": "none" }]
      ]
    }
  ]
}
