global using Orleans;
global using Orleans.Concurrency;
global using TicketQueue.Grains.Abstractions.Common;
global using TicketQueue.Grains.Abstractions.Events;
