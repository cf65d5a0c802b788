module example.com/grpcfixture

go 1.19
