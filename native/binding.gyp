{
  "targets": [
    {
      "target_name": "mpssh_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/netns.cc",
        "src/netlink_socket.cc",
        "src/address_reflex.cc",
        "src/mptcp_socket.cc",
        "src/mptcp_info.cc",
        "src/fdpass.cc",
        "src/subflow_diag.cc",
        "src/passwd.cc",
        "src/sd_notify.cc",
        "src/fds.cc",
        "src/sandbox.cc",
        "src/seccomp_filter.cc",
        "src/terminal.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "mpsshd-user-helper",
      "type": "executable",
      "sources": [
        "src/user_helper.c",
        "src/helper_wire.c",
        "src/helper_spawn.c",
        "src/helper_net.c",
        "src/helper_login.c",
        "src/helper_pam.c",
        "src/helper_monitor.c",
        "src/helper_records.c"
      ],
      "variables": {
        "have_pam": "<!(test -f /usr/include/security/pam_appl.h && echo 1 || echo 0)"
      },
      "conditions": [
        ["have_pam==1", { "defines": ["HAVE_PAM"], "libraries": ["-lpam"] }]
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-pthread", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"],
      "ldflags": ["-pthread", "-Wl,-z,relro,-z,now"]
    }
  ]
}
