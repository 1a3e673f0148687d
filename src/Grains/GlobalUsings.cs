global using Orleans;
global using Orleans.Runtime;
global using TicketQueue.Grains.Abstractions.Common;
global using TicketQueue.Grains.Abstractions.Events;
