// An Azure Service Bus namespace: a work queue and a topic read by two subscriptions.
resource ns 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: 'contoso-orders'
  location: resourceGroup().location
  sku: {
    name: 'Standard'
  }
}

resource orders 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: ns
  name: 'orders'
  properties: {
    lockDuration: 'PT45S'
    maxDeliveryCount: 5
    defaultMessageTimeToLive: 'P1D'
    deadLetteringOnMessageExpiration: true
  }
}

resource events 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: ns
  name: 'order-events'
  properties: {
    defaultMessageTimeToLive: 'P7D'
  }
}

resource billing 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: events
  name: 'billing'
  properties: {
    lockDuration: 'PT30S'
    maxDeliveryCount: 5
  }
}

resource shipping 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: events
  name: 'shipping'
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: 8
  }
}
