module medley/eventsim

go 1.24
