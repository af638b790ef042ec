// One engine and one browser for the whole run; the tests share them, one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
