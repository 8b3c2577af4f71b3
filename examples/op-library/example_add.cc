// An op library written against TensorFlow's C API only (tensorflow/c/ops.h
// and kernels.h, which tfserve's install provides): it registers the op
// TfserveExampleAdd (z = x + y, float32, y a scalar or of x's shape) and its
// CPU kernel when it is loaded, as any op library does. build.mjs compiles
// it; tfserve loads it with `opLibraries` or `--op_libraries`.
#include <cstdint>
#include <memory>
#include <vector>

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

namespace {

constexpr const char* kOp = "TfserveExampleAdd";

struct StatusDeleter {
  void operator()(TF_Status* s) const { TF_DeleteStatus(s); }
};
struct TensorDeleter {
  void operator()(TF_Tensor* t) const { TF_DeleteTensor(t); }
};
using StatusPtr = std::unique_ptr<TF_Status, StatusDeleter>;
using TensorPtr = std::unique_ptr<TF_Tensor, TensorDeleter>;

TensorPtr Input(TF_OpKernelContext* ctx, int index, TF_Status* status) {
  TF_Tensor* tensor = nullptr;
  TF_GetInput(ctx, index, &tensor, status);
  return TensorPtr(tensor);
}

void Compute(void* /*kernel*/, TF_OpKernelContext* ctx) {
  StatusPtr status(TF_NewStatus());
  TensorPtr x = Input(ctx, 0, status.get());
  if (TF_GetCode(status.get()) != TF_OK) return TF_OpKernelContext_Failure(ctx, status.get());
  TensorPtr y = Input(ctx, 1, status.get());
  if (TF_GetCode(status.get()) != TF_OK) return TF_OpKernelContext_Failure(ctx, status.get());
  const int64_t count = TF_TensorElementCount(x.get());
  const int64_t y_count = TF_TensorElementCount(y.get());
  if (y_count != 1 && y_count != count) {
    TF_SetStatus(status.get(), TF_INVALID_ARGUMENT, "TfserveExampleAdd: y must be a scalar or have x's element count");
    return TF_OpKernelContext_Failure(ctx, status.get());
  }
  std::vector<int64_t> dims(TF_NumDims(x.get()));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = TF_Dim(x.get(), static_cast<int>(i));
  TensorPtr z(TF_AllocateOutput(ctx, 0, TF_FLOAT, dims.data(), static_cast<int>(dims.size()),
                                static_cast<size_t>(count) * sizeof(float), status.get()));
  if (TF_GetCode(status.get()) != TF_OK) return TF_OpKernelContext_Failure(ctx, status.get());
  const auto* xs = static_cast<const float*>(TF_TensorData(x.get()));
  const auto* ys = static_cast<const float*>(TF_TensorData(y.get()));
  auto* zs = static_cast<float*>(TF_TensorData(z.get()));
  for (int64_t i = 0; i < count; ++i) zs[i] = xs[i] + ys[y_count == 1 ? 0 : i];
}

void SameShapeAsX(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  TF_ShapeHandle* shape = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, 0, shape, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, shape, status);
  TF_DeleteShapeHandle(shape);
}

// Runs when the library is loaded (TF_LoadLibrary), which is when TF
// collects an op library's registrations.
bool Register() {
  StatusPtr status(TF_NewStatus());
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(kOp);
  TF_OpDefinitionBuilderAddAttr(op, "T: {float}");
  TF_OpDefinitionBuilderAddInput(op, "x: T");
  TF_OpDefinitionBuilderAddInput(op, "y: T");
  TF_OpDefinitionBuilderAddOutput(op, "z: T");
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, &SameShapeAsX);
  TF_RegisterOpDefinition(op, status.get());  // takes the builder
  if (TF_GetCode(status.get()) != TF_OK) return false;
  TF_KernelBuilder* kernel = TF_NewKernelBuilder(kOp, "CPU", nullptr, &Compute, nullptr);
  TF_KernelBuilder_TypeConstraint(kernel, "T", TF_FLOAT, status.get());
  if (TF_GetCode(status.get()) != TF_OK) {
    TF_DeleteKernelBuilder(kernel);
    return false;
  }
  TF_RegisterKernelBuilder(kOp, kernel, status.get());  // takes the builder
  return TF_GetCode(status.get()) == TF_OK;
}

[[maybe_unused]] const bool registered = Register();

}  // namespace
