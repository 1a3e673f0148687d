global using Orleans;
global using TicketQueue.Grains.Abstractions.Common;
global using TicketQueue.Grains.Abstractions.Events;
global using Xunit;
