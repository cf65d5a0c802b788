module example.com/uprobe-trace/testdata

go 1.19
