package taint

// RefTrace is the in-memory reference tracer, for the external tests that
// compare it with Stream on a real index.
var RefTrace = refTrace
