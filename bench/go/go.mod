module edo/bench/go

go 1.19
