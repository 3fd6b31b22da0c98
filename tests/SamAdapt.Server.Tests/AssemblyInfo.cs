// One server test at a time: Tensor.LiveCount (InteractiveSegmenterTests) is process-wide, and the browser test's
// timeouts should not compete with other classes' model calls on CI's two cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
