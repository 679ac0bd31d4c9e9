# binding.gyp — builds native/build/Release/llmdbg_native.node.
# Kept in native/ (not the repo root) so npm never runs an implicit
# `node-gyp rebuild`; tools/build-native.mjs drives the build instead.
# BLAS flags come from probe.cjs (OpenBLAS via pkg-config or well-known
# paths on Linux, Accelerate on macOS); a failed probe fails the build and
# the install script reports one line and falls back to WASM.
# Non-goals: Windows; -march=native (AVX2 loops use runtime dispatch).
{
  "targets": [
    {
      "target_name": "llmdbg_native",
      "sources": [
        "src/addon.cc",
        "src/pool.cc",
        "src/blas.cc",
        "src/elementwise.cc",
        "src/fused.cc",
        "src/reduce.cc",
        "src/movement.cc"
      ],
      "defines": ["<!@(node probe.cjs defines)"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function",
                    "<!@(node probe.cjs cflags)"],
      "ldflags": ["-pthread"],
      "libraries": ["<!@(node probe.cjs libs)"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES"
          },
          "link_settings": { "libraries": ["$(SDKROOT)/System/Library/Frameworks/Accelerate.framework"] }
        }],
        ["OS=='linux'", {
          "cflags_cc": ["-pthread"]
        }]
      ]
    }
  ]
}
