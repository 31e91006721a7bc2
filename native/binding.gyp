{
  "targets": [
    {
      "target_name": "mpssh_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/netns.cc",
        "src/netlink_socket.cc",
        "src/mptcp_socket.cc",
        "src/mptcp_info.cc",
        "src/fdpass.cc",
        "src/subflow_diag.cc",
        "src/passwd.cc",
        "src/sd_notify.cc",
        "src/fds.cc",
        "src/sandbox.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
