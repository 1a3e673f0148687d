global using System.Net;
global using System.Text.Json.Nodes;
global using Microsoft.Playwright;
global using TicketQueue.Browser.Tests.Infrastructure;
global using TicketQueue.Integration.Tests.Infrastructure;
global using System.Text.RegularExpressions;
global using Xunit;
global using static Microsoft.Playwright.Assertions;
