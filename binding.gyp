{
  "targets": [
    {
      "target_name": "tfserve",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter((f) => f.endsWith('.cc')).map((f) => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node scripts/libtensorflow.mjs --print include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-fvisibility=hidden"],
      "libraries": [
        "<!@(node scripts/libtensorflow.mjs --print libs)",
        "-Wl,-rpath,'$$ORIGIN/../../deps/libtensorflow/lib'",
        "-ldl"
      ]
    }
  ]
}
