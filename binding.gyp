{
  "targets": [
    {
      "target_name": "tfserve",
      "sources": [
        "native/addon.cc",
        "native/js_error.cc",
        "native/model_registry.cc",
        "native/model_wrap.cc",
        "native/promise_worker.cc",
        "native/saved_model.cc",
        "native/tensor_marshal.cc",
        "native/tf_error.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node scripts/libtensorflow.mjs --print include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden"],
      "libraries": [
        "<!@(node scripts/libtensorflow.mjs --print libs)",
        "-Wl,-rpath,'$$ORIGIN/../../deps/libtensorflow/lib'"
      ]
    }
  ]
}
